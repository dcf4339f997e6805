# Imported by slipc import slipstream from examples_images_ubuntu-12.04.xml,
# examples_tutorials_torque_torque.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# Imported from SlipStream deployment module examples/tutorials/torque/torque, version 301
# (examples_tutorials_torque_torque.xml).
# Not imported (no equivalent in a recipe):
#   - version 301: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, post (deploy); public: get, post (deploy): a recipe is shared as files
#     (a repository's own rights)
deployment "torque" {
  description = "Torque Batch Cluster"

  node "master" {
    component    = component.torque-master
    cloud        = cloud.default
    multiplicity = 1
  }

  node "worker" {
    component    = component.torque-worker
    cloud        = cloud.default
    multiplicity = 2
  }
}
