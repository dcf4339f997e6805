# Which images are built: a derived image with steps is built on each cloud
# a node using it runs on, from its parent's id there (or its parent's own
# build); a level without steps adds no build; build = false keeps the
# steps at deploy time; a fixed cloud builds nothing.

cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
  subnet_id = "subnet-0abc"
}

cloud "lab" {
  connector = "fixed"
  hosts     = ["192.0.2.10"]
}

image "debian" {
  platform = "debian"
  ids      = { aws = "ami-0123456789abcdef0" }
}

image "runtime" {
  parent      = image.debian
  packages    = ["curl"]
  pre_install = "echo runtime > /etc/runtime"
}

image "app" {
  parent       = image.runtime
  cpu          = 2
  post_install = "echo app > /etc/app"
}

image "app_plain" {
  parent = image.app
}

image "tools" {
  parent       = image.debian
  build        = false
  post_install = "echo tools > /etc/tools"
}

component "web" {
  image  = image.app_plain
  deploy = "true"
}

component "ops" {
  image  = image.tools
  deploy = "true"
}

deployment "d" {
  node "web" {
    component = component.web
    cloud     = cloud.aws
  }
  node "ops" {
    component = component.ops
    cloud     = cloud.aws
  }
  node "lab" {
    component = component.web
    cloud     = cloud.lab
  }
}
