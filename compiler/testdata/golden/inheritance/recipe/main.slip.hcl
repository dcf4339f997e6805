# Three-level image chain: parameters child-first, packages a union, build
# scripts root-first, the nearest image with an id for a cloud supplies it,
# sizes nearest-first.

cloud "aws" {
  connector = "ec2"
  region    = "us-east-1"
}

cloud "os" {
  connector = "openstack"
  auth_url  = "https://keystone.test:5000/v3"
}

image "base" {
  login_user = "admin"
  platform   = "debian"
  ids = {
    aws = "ami-base"
    os  = "os-base"
  }
  packages    = ["curl", "git"]
  pre_install = "echo base-pre"
  cpu         = 1
  ram         = 1

  input "greeting" {
    default     = "hello from base"
    description = "base description"
  }
}

image "middle" {
  parent       = image.base
  ids          = { aws = "ami-middle" }
  packages     = ["git", "nginx"]
  pre_install  = "echo middle-pre"
  post_install = "echo middle-post"
  ram          = 4

  input "greeting" {
    default = "hello from middle"
  }
}

image "leaf" {
  parent       = image.middle
  packages     = ["jq"]
  post_install = "echo leaf-post"
}

component "app" {
  image = image.leaf
  disk  = 30

  input "port" {
    default = 8080
  }
  input "debug" {
    default = true
  }

  deploy = "ss-set ready yes"
  report = "cp /var/log/app.log $SLIPSTREAM_REPORT_DIR/"

  output "ready" {}
}

deployment "chain" {
  node "on_aws" {
    component = component.app
    cloud     = cloud.aws
  }
  node "on_os" {
    component    = component.app
    cloud        = cloud.os
    multiplicity = 0
    flavor       = "m1.large"
  }
}
