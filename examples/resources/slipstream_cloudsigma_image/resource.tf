# A recipe's image built on one cloud: a builder machine runs the chain's
# build steps, is sealed and snapshotted, then terminated. slipc emits one
# for each image with build steps on each cloud a node using it runs on;
# machines then start from image_id and skip the baked-in steps.
provider "slipstream" {
  alias = "cs"
  cloudsigma = {
    location = "zrh"
  }
}

resource "slipstream_cloudsigma_image" "app" {
  provider = slipstream.cs

  name = "app"
  # The nearest ancestor's id here, or the parent's own built image_id.
  parent_image_id = "5e2d8a41-1b7c-4f3e-9a6d-2c8b0e4f7a13"
  platform        = "debian"
  packages        = ["nginx"]
  pre_install     = [file("${path.module}/scripts/images/app/pre_install.sh")]
  post_install    = [file("${path.module}/scripts/images/app/post_install.sh")]
  cpu             = 1
  ram             = 2
}

# Machines start from it.
output "app_image_id" {
  value = slipstream_cloudsigma_image.app.image_id
}
