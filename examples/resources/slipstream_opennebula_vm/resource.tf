# The web node's machines on an OpenNebula cloud, one VM per instance.
# OpenNebula has no instance types: each VM gets the component's cpu and
# ram (within the user's quota).
provider "slipstream" {
  alias = "one"
  opennebula = {
    # Or OPENNEBULA_ENDPOINT / OPENNEBULA_USERNAME / OPENNEBULA_PASSWORD,
    # or ONE_XMLRPC and the ONE_AUTH file, as OpenNebula's CLI reads them.
    endpoint = "https://one.example.com:2633/RPC2"
    username = "deployer"
    password = var.opennebula_password
  }
}

resource "slipstream_opennebula_vm" "web" {
  count    = 2
  provider = slipstream.one

  deployment_id = slipstream_deployment.lamp.id
  node          = "web"
  index         = count.index + 1

  image_id = "12" # an image id; "template:3" instantiates VM template 3 instead
  cpu      = 2
  ram      = 4
  disk     = 20 # the image's disk grows to 20 GB

  network        = "public"
  ssh_public_key = file("~/.ssh/id_ed25519.pub")
  tags           = { team = "shop" }
}
