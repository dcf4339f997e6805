# A recipe's image built on one cloud: a builder VM runs the chain's build
# steps, is sealed, powered off and its disk saved as a new OpenNebula
# image (one.vm.disksaveas), then terminated. slipc emits one for each
# image with build steps on each cloud a node using it runs on; machines
# then start from image_id and skip the baked-in steps.
provider "slipstream" {
  alias = "one"
  opennebula = {
    endpoint = "https://one.example.com:2633/RPC2"
  }
}

resource "slipstream_opennebula_image" "app" {
  provider = slipstream.one

  name = "app"
  # The nearest ancestor's id here, or the parent's own built image_id.
  parent_image_id = "12"
  platform        = "debian"
  packages        = ["nginx"]
  pre_install     = [file("${path.module}/scripts/images/app/pre_install.sh")]
  post_install    = [file("${path.module}/scripts/images/app/post_install.sh")]
  cpu             = 1
  ram             = 2
}

# Machines start from it.
output "app_image_id" {
  value = slipstream_opennebula_image.app.image_id
}
