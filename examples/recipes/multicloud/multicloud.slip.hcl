# One deployment across two clouds: the database on a host in the office's
# server room, the web tier on hosts rented in a data centre and reached
# through its jump host. Only the cloud blocks name a cloud; retargeting the
# deployment means changing them alone.
#
# Both clouds are pools of existing hosts (the fixed connector): the same
# recipe over two host pools, because fixed is the one connector the
# provider has a resource for today. The ec2, openstack and cloudsigma
# connectors are in the catalog (connectors/catalog) with their settings,
# but planned: they arrive with issue 10, which flips each one's
# Implemented flag. Until then slipc rejects a cloud that uses them. Then
# moving the web tier to EC2 is this file's "datacenter" cloud becoming
#
#   cloud "aws" {
#     connector     = "ec2"
#     region        = "eu-west-1"
#     instance_type = "t3.small"
#   }
#
# with the web node's cloud = cloud.aws and an id for "aws" in the image's
# ids = { aws = "ami-…" }; nothing else changes.

variable "dc_private_key" {
  type        = string
  sensitive   = true
  description = "PEM private key the data centre's hosts accept for the deploy user."
}

cloud "office" {
  connector = "fixed"
  hosts     = ["10.200.0.2"]
  user      = "root"
}

cloud "datacenter" {
  connector    = "fixed"
  hosts        = ["198.51.100.10", "198.51.100.11"]
  user         = "deploy"
  private_key  = var.dc_private_key
  bastion_host = "198.51.100.2"
  bastion_user = "jump"
}

image "ubuntu" {
  platform = "ubuntu"
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
    cloud     = cloud.office
  }

  node "web" {
    component    = component.web
    cloud        = cloud.datacenter
    multiplicity = 2
    inputs = {
      db_host     = "db:hostname"
      db_password = "db:password"
    }
  }
}
