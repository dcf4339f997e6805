# A reusable module built from an imported library of images and components.

import "lib" {
  source = "./lib"
}

variable "replicas" {
  type    = number
  default = 2
}

cloud "lab" {
  connector = "fixed"
  hosts     = var.lab_hosts
}

variable "lab_hosts" {
  type        = map(list(string))
  description = "Each node's hosts: { cache = [...], api = [...] }."
}

image "custom" {
  parent      = import.lib.image.base
  pre_install = file("setup.sh")
}

component "api" {
  image = image.custom

  input "backend" {}

  deploy = "ss-get backend"
}

deployment "svc" {
  node "cache" {
    component    = import.lib.component.cache
    cloud        = cloud.lab
    multiplicity = var.replicas
  }
  node "api" {
    component = component.api
    cloud     = cloud.lab
    inputs = {
      backend = "cache:endpoint"
    }
  }
}
