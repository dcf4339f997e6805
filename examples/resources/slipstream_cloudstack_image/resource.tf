# A recipe's image built on one cloud: a builder VM runs the chain's build
# steps, is sealed, stopped and made a template from its root volume, then
# destroyed. slipc emits one for each image with build steps on each cloud
# a node using it runs on; machines then start from image_id and skip the
# baked-in steps.
provider "slipstream" {
  alias = "acs"
  cloudstack = {
    api_url = "https://cloud.example.com/client/api"
  }
}

resource "slipstream_cloudstack_image" "app" {
  provider = slipstream.acs

  name = "app"
  # The nearest ancestor's id here, or the parent's own built image_id.
  parent_image_id = "3a7c9e2f-1b4d-4c6e-8f0a-2b4d6e8f0a1c"
  platform        = "debian"
  packages        = ["nginx"]
  pre_install     = [file("${path.module}/scripts/images/app/pre_install.sh")]
  post_install    = [file("${path.module}/scripts/images/app/post_install.sh")]
  cpu             = 1
  ram             = 2
}

# Machines start from it.
output "app_image_id" {
  value = slipstream_cloudstack_image.app.image_id
}
