# A recipe's image built on one cloud: a builder VM runs the chain's build
# steps, is sealed, deallocated, generalized and captured, then deleted.
# slipc emits one for each image with build steps on each cloud a node
# using it runs on; machines then start from image_id and skip the
# baked-in steps. The capture is a managed image in slipstream-images, or,
# with gallery set in the provider block, a version in that compute
# gallery.
provider "slipstream" {
  alias = "az"
  azure = {
    subscription_id = "8f4c2d1e-3b5a-4c6d-9e7f-0a1b2c3d4e5f"
    location        = "westeurope"
    gallery         = "/subscriptions/8f4c2d1e-3b5a-4c6d-9e7f-0a1b2c3d4e5f/resourceGroups/images-rg/providers/Microsoft.Compute/galleries/shop_gallery"
  }
}

resource "slipstream_azure_image" "app" {
  provider = slipstream.az

  name = "app"
  # The nearest ancestor's id here, or the parent's own built image_id.
  parent_image_id = "Debian:debian-12:12-gen2:latest"
  platform        = "debian"
  packages        = ["nginx"]
  pre_install     = [file("${path.module}/scripts/images/app/pre_install.sh")]
  post_install    = [file("${path.module}/scripts/images/app/post_install.sh")]
  cpu             = 1
  ram             = 2
}

# Machines start from it.
output "app_image_id" {
  value = slipstream_azure_image.app.image_id
}
