# Continuous deployment: CI injects the version to certify at deploy time,
#   terraform apply -var app_version=1.4.2
# and reads the test verdict from the outputs.

variable "app_version" {
  type        = string
  default     = "1.0.0"
  description = "Version of the application to deploy and certify."
}

cloud "lab" {
  connector = "fixed"
  hosts = {
    app    = ["10.200.0.2"]
    tester = ["10.200.0.3"]
  }
}

image "debian" {
  platform = "debian"
}

image "app_base" {
  parent   = image.debian
  packages = ["curl", "ca-certificates"]
}

component "app" {
  image = image.app_base

  input "version" {
    description = "Version to install."
  }
  output "url.service" {}

  deploy = templatefile("scripts/install.sh.tftpl", { version = var.app_version })
}

component "tester" {
  image = image.debian

  input "target" {}
  input "version" {}
  output "verdict" {
    description = "pass or fail."
  }

  deploy = file("scripts/test.sh")
}

deployment "certify" {
  keep_running = "on-error"

  node "app" {
    component = component.app
    cloud     = cloud.lab
    inputs = {
      version = var.app_version
    }
  }

  node "tester" {
    component = component.tester
    cloud     = cloud.lab
    inputs = {
      target  = node.app["url.service"]
      version = "v${var.app_version}"
    }
  }
}
