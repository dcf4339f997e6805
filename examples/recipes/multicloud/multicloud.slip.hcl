# One deployment across three clouds: the database on Amazon EC2, the web
# tier in a private OpenStack cloud, and a probe on CloudSigma that checks
# every web server once they are up. Only the cloud blocks (and the image's
# ids per cloud) name a cloud: moving a node to another cloud is changing
# its `cloud`, nothing else. The generated database password crosses clouds
# through the coordinator, never through Terraform's configuration.
#
# Credentials come from each cloud's usual places: the AWS chain
# (AWS_PROFILE, ~/.aws), clouds.yaml for OpenStack, CLOUDSIGMA_USERNAME and
# CLOUDSIGMA_PASSWORD. `make demo-multicloud` runs this recipe on the fake
# clouds of the test suite, which serve these image ids.

variable "site_title" {
  type        = string
  default     = "SlipStream across three clouds"
  description = "Title the web servers show."
}

cloud "aws" {
  connector          = "ec2"
  region             = "eu-west-1"
  security_group_ids = ["sg-0a1b2c3d4e5f60718"]
}

cloud "private" {
  connector = "openstack"
  cloud     = "shop" # the clouds.yaml entry
  network   = "shop-net"
}

cloud "cs" {
  connector = "cloudsigma"
  location  = "zrh"
}

image "debian" {
  description = "Debian 12 with cloud-init, as each cloud provides it."
  login_user  = "root"
  platform    = "debian"
  ids = {
    aws     = "ami-0d1e2b3c4a5f60718"
    private = "7b1f3c2e-5a4d-4e6f-8a9b-0c1d2e3f4a5b"
    cs      = "5e2d8a41-1b7c-4f3e-9a6d-2c8b0e4f7a13"
  }
}

component "db" {
  image = image.debian
  cpu   = 2
  ram   = 4
  disk  = 20

  output "password" {
    description = "Generated database password."
    sensitive   = true
  }

  deploy = <<-EOT
    #!/bin/sh
    set -e
    ss-random -s 32 password >/dev/null
    ss-display "database ready on $(ss-get hostname)"
  EOT
}

component "web" {
  image = image.debian
  cpu   = 1
  ram   = 2

  input "db_host" {
    description = "Address of the database."
  }
  input "db_password" {
    description = "Database password."
    sensitive   = true
  }
  input "title" {
    default = "web"
  }
  output "url.service" {
    description = "Address of the site."
  }

  deploy = file("scripts/web.sh")
}

component "probe" {
  image = image.debian
  cpu   = 1
  ram   = 1

  output "checked" {
    description = "How many web servers the probe saw."
  }

  deploy = file("scripts/probe.sh")
}

deployment "shop" {
  description  = "A database on EC2, web servers on OpenStack, a probe on CloudSigma."
  keep_running = "on-success"

  node "db" {
    component = component.db
    cloud     = cloud.aws
  }

  node "web" {
    component    = component.web
    cloud        = cloud.private
    multiplicity = 2
    inputs = {
      db_host     = "db:hostname"
      db_password = node.db.password
      title       = var.site_title
    }
  }

  node "probe" {
    component = component.probe
    cloud     = cloud.cs
  }
}
