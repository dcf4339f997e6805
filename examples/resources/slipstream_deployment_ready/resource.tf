# Wait until every machine of the deployment is Ready, then use what they
# published.
resource "slipstream_deployment_ready" "lamp" {
  deployment_id = slipstream_deployment.lamp.id
  # Wait again for the new machines when a node is scaled.
  multiplicities = slipstream_deployment.lamp.multiplicities

  # The machines must exist before there is anything to wait for.
  depends_on = [slipstream_fixed_host.db, slipstream_fixed_host.web]

  timeouts = {
    create = "20m"
  }
}

output "site" {
  value = slipstream_deployment_ready.lamp.outputs["web"]["url"]
}

output "db_password" {
  value     = slipstream_deployment_ready.lamp.sensitive_outputs["db"]["password"][0]
  sensitive = true
}
