# In another root module (the load balancer's, say): the lamp deployment,
# read by its id from the coordinator, without terraform_remote_state.
variable "lamp_deployment_id" {
  type        = string
  description = "slipstream_deployment.lamp.id in the configuration that manages the lamp (lamp-1a2b3c4d)."
}

data "slipstream_deployment" "lamp" {
  id = var.lamp_deployment_id

  # Data sources are read at plan time: refuse to wire a lamp that is
  # still starting, or aborted.
  lifecycle {
    postcondition {
      condition     = self.state == "Ready" && !self.aborted
      error_message = "The lamp is not Ready (${self.state}) or is aborted: ${self.abort}"
    }
  }
}

# The web servers' addresses, in index order.
output "web_hosts" {
  value = [for i in data.slipstream_deployment.lamp.instances : i.hostname if i.node == "web"]
}

# Any runtime parameter that is not sensitive, by key. The database password
# (sensitive) is not there: read it with the ephemeral slipstream_parameter.
output "first_web_url" {
  value = data.slipstream_deployment.lamp.parameters["web.1:url"]
}
