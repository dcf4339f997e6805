# The worker node's servers on CloudSigma, one per instance. CloudSigma has
# no instance types: each server gets the component's cpu and ram.
provider "slipstream" {
  alias = "cs"
  cloudsigma = {
    location = "zrh"
    # username and password, or CLOUDSIGMA_USERNAME / CLOUDSIGMA_PASSWORD
  }
}

resource "slipstream_cloudsigma_server" "worker" {
  count    = 2
  provider = slipstream.cs

  deployment_id = slipstream_deployment.lamp.id
  node          = "worker"
  index         = count.index + 1

  image_id = "6d53b92c-42dc-472b-a7b6-7021f45c377a" # a library drive, cloned per server
  cpu      = 2
  ram      = 2
  disk     = 20

  tags           = ["shop"]
  ssh_public_key = file("~/.ssh/id_ed25519.pub")
}
