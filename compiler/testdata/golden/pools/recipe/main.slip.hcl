# Which nodes are pooled: a cloud node above the threshold (20) by its
# multiplicity or its variable's default, one below it that asks for a
# pool, and one above it that asks not to be. A pooled deployment's ready
# resource is compact.

variable "workers" {
  type    = number
  default = 1000
}

cloud "aws" {
  connector = "ec2"
  region    = "eu-west-1"
}

image "debian" {
  ids = { aws = "ami-0123456789abcdef0" }
}

component "master" {
  image = image.debian
  cpu   = 2
  ram   = 4

  output "url" {}

  deploy = "ss-set url http://$(ss-get hostname)"
}

component "worker" {
  image = image.debian
  cpu   = 1
  ram   = 1

  input "master" {}
  output "registered" {}

  deploy = "ss-get master >/dev/null; ss-set registered yes"
}

deployment "grid" {
  node "master" {
    component = component.master
    cloud     = cloud.aws
    pool      = true
  }
  node "worker" {
    component    = component.worker
    cloud        = cloud.aws
    multiplicity = var.workers
    inputs       = { master = node.master.url }
  }
  node "probe" {
    component    = component.worker
    cloud        = cloud.aws
    multiplicity = 30
    pool         = false
    inputs       = { master = node.master.url }
  }
}
