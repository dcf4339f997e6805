# Imported by slipc import slipstream from image.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# Imported from SlipStream image module p1/image1, version 2 (image.xml).
# Not imported (no equivalent in a recipe):
#   - version 2: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner super; owner: get, put, post (deploy), delete, create
#     children: a recipe is shared as files (a repository's own rights)
#   - commit by super: "Initial version of this image.": commit messages belong to the recipe's
#     version control
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
image "image1" {
  platform = "centos"
  ids = {
    "test-cloud" = "123"
  }
}
