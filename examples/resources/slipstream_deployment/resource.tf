# Usually written by `slipc compile` from a recipe. A database that
# generates its password and web servers that wait for it.
resource "slipstream_deployment" "lamp" {
  name = "lamp"
  components = {
    db = {
      image = { login_user = "root", platform = "debian", packages = ["mariadb-server"] }
      parameters = {
        password = { description = "Generated password.", output = true, sensitive = true }
      }
      scripts = {
        deploy = [file("${path.module}/scripts/db-deploy.sh")]
      }
    }
    web = {
      parameters = {
        db_host     = {}
        db_password = { sensitive = true }
        url         = { output = true }
      }
      scripts = {
        deploy = [file("${path.module}/scripts/web-deploy.sh")]
      }
    }
  }
  nodes = {
    db = { component = "db", cloud = "lab", connector = "fixed", multiplicity = 1 }
    web = {
      component    = "web"
      cloud        = "lab"
      connector    = "fixed"
      multiplicity = 3
      mappings     = { db_host = "db:hostname", db_password = "db:password" }
    }
  }
}
