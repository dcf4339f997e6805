# Each node takes its own list of a fixed cloud's hosts, which does not
# move when another node is scaled; a cloud with one node may give a plain
# list. A quoted literal that looks like a mapping stays a literal.

variable "workers" {
  type    = number
  default = 2
}

cloud "rack_a" {
  connector   = "fixed"
  hosts = {
    alpha = ["192.0.2.10"]
    beta  = ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
    gamma = ["192.0.2.14", "192.0.2.15"]
  }
  user        = "deploy"
  port        = 2222
  known_hosts = "192.0.2.10 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1vY2tLZXlGb3JUZXN0c09ubHlOb3RBUmVhbEtleQ"
}

cloud "rack_b" {
  connector = "fixed"
  hosts     = ["192.0.2.20"]
}

image "os" {}

component "svc" {
  image = image.os

  input "label" {}
  input "peer" {
    default = "none"
  }

  deploy = "echo $(ss-get label)"
}

deployment "pools" {
  node "alpha" {
    component = component.svc
    cloud     = cloud.rack_a
    inputs = {
      label = "'alpha:literal'"
    }
  }
  node "beta" {
    component    = component.svc
    cloud        = cloud.rack_a
    multiplicity = var.workers
    inputs = {
      label = "beta"
      peer  = "alpha:hostname"
    }
  }
  node "gamma" {
    component    = component.svc
    cloud        = cloud.rack_a
    multiplicity = 2
    inputs = {
      label = "gamma"
    }
  }
  node "delta" {
    component = component.svc
    cloud     = cloud.rack_b
    inputs = {
      label = 42
    }
  }
}
