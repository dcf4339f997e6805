# Existing machines adopted over SSH, one per instance of node "web".
provider "slipstream" {
  alias = "lab"
  fixed = {
    user             = "root"
    private_key_file = "~/.ssh/id_ed25519"
    known_hosts      = file("${path.module}/known_hosts")
  }
}

locals {
  web_hosts = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
}

resource "slipstream_fixed_host" "web" {
  count    = 3
  provider = slipstream.lab

  deployment_id = slipstream_deployment.lamp.id
  node          = "web"
  index         = count.index + 1
  host          = local.web_hosts[count.index]
}
