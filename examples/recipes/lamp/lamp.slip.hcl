# LAMP: one database and three web servers. The database generates its
# password with ss-random and publishes it; the web servers' deploy scripts
# block in ss-get until it exists, then configure themselves with it.

variable "site_title" {
  type        = string
  default     = "SlipStream LAMP"
  description = "Title the web servers show."
}

cloud "lab" {
  connector = "fixed"
  # Each node has its own machines, so scaling one never moves another.
  hosts = {
    db  = ["10.200.0.2"]
    web = ["10.200.0.3", "10.200.0.4", "10.200.0.5"]
  }
  user      = "root"
}

image "debian" {
  description = "Debian 12 as the cloud provides it."
  login_user  = "root"
  platform    = "debian"
}

image "lamp_base" {
  parent      = image.debian
  packages    = ["curl"]
  pre_install = <<-EOT
    #!/bin/sh
    set -e
    echo "preparing $(hostname)"
  EOT
}

component "db" {
  image = image.lamp_base
  cpu   = 2
  ram   = 4
  disk  = 20

  input "port" {
    default     = "3306"
    description = "Port the database listens on."
  }
  output "password" {
    description = "Generated database password."
    sensitive   = true
  }

  deploy = file("scripts/db-deploy.sh")
}

component "web" {
  image = image.lamp_base
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
    default = "LAMP"
  }
  output "url.service" {
    description = "Address of the site."
  }

  deploy = file("scripts/web-deploy.sh")
}

deployment "lamp" {
  description  = "A database and three web servers."
  keep_running = "on-success"

  node "db" {
    component = component.db
    cloud     = cloud.lab
  }

  node "web" {
    component    = component.web
    cloud        = cloud.lab
    multiplicity = 3
    inputs = {
      db_host     = "db:hostname"
      db_password = node.db.password
      title       = var.site_title
    }
  }
}
