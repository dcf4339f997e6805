# The web node's VMs on an Apache CloudStack cloud, one per instance.
provider "slipstream" {
  alias = "acs"
  cloudstack = {
    # Or CLOUDSTACK_API_URL / CLOUDSTACK_API_KEY / CLOUDSTACK_SECRET_KEY.
    api_url    = "https://cloud.example.com/client/api"
    api_key    = var.cloudstack_api_key
    secret_key = var.cloudstack_secret_key
  }
}

resource "slipstream_cloudstack_instance" "web" {
  count    = 3
  provider = slipstream.acs

  deployment_id = slipstream_deployment.lamp.id
  node          = "web"
  index         = count.index + 1

  image_id = "3a7c9e2f-1b4d-4c6e-8f0a-2b4d6e8f0a1c" # a template with cloud-init
  cpu      = 2                                      # the smallest service offering with 2 cores and 4 GB
  ram      = 4
  disk     = 20 # the root disk, when larger than the template's

  zone           = "zone1"
  network_ids    = ["8d5e2c1a-4b3f-4a6e-9c7d-0e1f2a3b4c5d"]
  ssh_public_key = file("~/.ssh/id_ed25519.pub")
  tags           = { owner = "shop-team" }
}
