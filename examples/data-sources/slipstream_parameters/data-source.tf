# Every web server's URL, in index order (web.2 before web.10). The
# variable and data.slipstream_deployment.lamp are those of the
# slipstream_deployment data source's example.
data "slipstream_parameters" "web_urls" {
  deployment_id = var.lamp_deployment_id
  node          = "web"
  name          = "url"

  # Wait for every web server to have published it before using the list.
  lifecycle {
    postcondition {
      condition     = length(self.list) == data.slipstream_deployment.lamp.multiplicities["web"]
      error_message = "Not every web server has published its URL yet: ${jsonencode(self.values)}"
    }
  }
}

output "backends" {
  value = join(",", data.slipstream_parameters.web_urls.list)
}

# One instance's value, by instance name.
output "first_backend" {
  value = data.slipstream_parameters.web_urls.values["web.1"]
}

# Every instance's hostname, every node's (db.1, then web.1, web.2, ...).
data "slipstream_parameters" "hosts" {
  deployment_id = var.lamp_deployment_id
  name          = "hostname"
}
