# One deployment across two clouds: the database on a private OpenStack,
# the web tier on EC2. Only the cloud blocks name a cloud; retargeting the
# deployment means changing them alone.

variable "os_password" {
  type      = string
  sensitive = true
}

cloud "private" {
  connector    = "openstack"
  auth_url     = "https://keystone.example.org:5000/v3"
  user_name    = "deployer"
  password     = var.os_password
  project_name = "web"
  domain_name  = "Default"
  flavor       = "m1.medium"
  network      = "internal"
}

cloud "aws" {
  connector     = "ec2"
  region        = "eu-west-1"
  instance_type = "t3.small"
}

image "ubuntu" {
  platform   = "ubuntu"
  login_user = "ubuntu"
  ids = {
    private = "4d2b9a0c-5d1e-4c55-a3c1-0f5a5b2e7c11"
    aws     = "ami-0a8e758f5e873d1c1"
  }
}

component "db" {
  image = image.ubuntu
  cpu   = 2
  ram   = 8
  disk  = 50

  output "password" {
    sensitive = true
  }

  deploy = <<-EOT
    #!/bin/sh
    set -e
    ss-random -s 32 password >/dev/null
    ss-display "database ready"
  EOT
}

component "web" {
  image = image.ubuntu
  cpu   = 1
  ram   = 2

  input "db_host" {}
  input "db_password" {
    sensitive = true
  }

  deploy = file("scripts/web.sh")
}

deployment "shop" {
  node "db" {
    component = component.db
    cloud     = cloud.private
  }

  node "web" {
    component     = component.web
    cloud         = cloud.aws
    multiplicity  = 2
    instance_type = "t3.medium"
    inputs = {
      db_host     = "db:hostname"
      db_password = "db:password"
    }
  }
}
