# Keep the deployment's secrets out of the state...
resource "slipstream_deployment_ready" "lamp" {
  deployment_id   = slipstream_deployment.lamp.id
  multiplicities  = slipstream_deployment.lamp.multiplicities
  store_sensitive = false
  depends_on      = [slipstream_fixed_host.db, slipstream_fixed_host.web]
}

# ...and read the generated database password where it is needed: here to
# configure the PostgreSQL provider that manages the database's roles. The
# value is in neither the plan nor the state.
ephemeral "slipstream_parameter" "db_password" {
  deployment_id = slipstream_deployment_ready.lamp.id
  key           = "db.1:password"

  timeouts = {
    open = "5m"
  }
}

provider "postgresql" {
  host     = slipstream_deployment_ready.lamp.outputs["db"]["hostname"][0]
  username = "postgres"
  password = ephemeral.slipstream_parameter.db_password.value
}
