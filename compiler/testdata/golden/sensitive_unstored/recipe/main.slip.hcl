# store_sensitive = false: the ready resource keeps the sensitive runtime
# parameters out of the state, and the compiled configuration has no
# output for them, only a note saying how to read them with the ephemeral
# resource slipstream_parameter. The plain outputs are kept.

cloud "lab" {
  connector = "fixed"
  hosts = {
    db  = ["192.0.2.2"]
    web = ["192.0.2.3", "192.0.2.4"]
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

component "web" {
  image = image.os

  input "db_password" {
    sensitive = true
  }
  output "admin_token" {
    sensitive = true
  }

  deploy = "ss-get db_password >/dev/null; ss-random admin_token >/dev/null"
}

deployment "d" {
  store_sensitive = false

  node "db" {
    component = component.db
    cloud     = cloud.lab
  }
  node "web" {
    component    = component.web
    cloud        = cloud.lab
    multiplicity = 2
    inputs       = { db_password = node.db.password }
  }
}
