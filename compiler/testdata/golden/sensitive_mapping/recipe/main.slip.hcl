# A sensitive output mapped into an input the component does not declare
# sensitive: on that node the input is sensitive, on another node of the
# same component, fed a plain value, it is not.

cloud "lab" {
  connector = "fixed"
  hosts = {
    app   = ["192.0.2.1"]
    db    = ["192.0.2.2"]
    probe = ["192.0.2.3"]
  }
}

image "os" {}

component "db" {
  image = image.os

  output "password" {
    sensitive = true
  }
  output "port" {}

  deploy = "ss-random password >/dev/null; ss-set port 5432"
}

component "client" {
  image = image.os

  input "secret" {}

  deploy = "ss-get secret >/dev/null"
}

deployment "d" {
  node "db" {
    component = component.db
    cloud     = cloud.lab
  }
  node "app" {
    component = component.client
    cloud     = cloud.lab
    inputs    = { secret = node.db.password }
  }
  node "probe" {
    component = component.client
    cloud     = cloud.lab
    inputs    = { secret = node.db.port }
  }
}
