# Inputs with allowed values (SlipStream's Enum parameters) and a component
# whose deploy phase is a list of scripts run in order (SlipStream ran the
# execute targets of an image chain root first).

cloud "lab" {
  connector = "fixed"
  hosts     = ["192.0.2.10"]
}

image "debian" {
  platform = "debian"

  input "network" {
    description = "Network type."
    default     = "Public"
    allowed     = ["Public", "Private"]
  }
}

component "web" {
  image = image.debian

  input "tier" {
    allowed = ["small", "large"]
  }
  input "mode" {
    default = "fast"
    allowed = ["fast", "safe"]
  }
  output "port" {}

  deploy = [
    file("scripts/preset.sh"),
    file("scripts/web.sh"),
  ]
}

deployment "site" {
  node "web" {
    component = component.web
    cloud     = cloud.lab
    inputs = {
      tier = "'large'"
    }
  }
}
