# A recipe's image built on one cloud: a builder machine runs the chain's
# build steps, is sealed and snapshotted, then terminated. slipc emits one
# for each image with build steps on each cloud a node using it runs on;
# machines then start from image_id and skip the baked-in steps.
provider "slipstream" {
  alias = "cloud"
  openstack = {
    cloud = "mycloud"
  }
}

resource "slipstream_openstack_image" "app" {
  provider = slipstream.cloud

  name = "app"
  # The nearest ancestor's id here, or the parent's own built image_id.
  parent_image_id = "7b1f3c2e-5a4d-4e6f-8a9b-0c1d2e3f4a5b"
  platform        = "debian"
  packages        = ["nginx"]
  pre_install     = [file("${path.module}/scripts/images/app/pre_install.sh")]
  post_install    = [file("${path.module}/scripts/images/app/post_install.sh")]
  cpu             = 1
  ram             = 2
}

# Machines start from it.
output "app_image_id" {
  value = slipstream_openstack_image.app.image_id
}
