# Imported by slipc import slipstream from examples_cluster_base.xml, examples_cluster_cluster.xml,
# examples_cluster_master.xml, examples_cluster_worker.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# Imported from SlipStream deployment module examples/cluster/cluster, version 104
# (examples_cluster_cluster.xml).
# Not imported (no equivalent in a recipe):
#   - version 104: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put, post (deploy); public: get, post (deploy): a recipe is shared as
#     files (a repository's own rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
deployment "cluster" {
  description = "A master and its workers: the token crosses nodes through mappings."

  node "master" {
    component    = component.master
    cloud        = cloud.default
    multiplicity = 1
  }

  node "worker" {
    component                 = component.worker
    cloud                     = cloud.default
    multiplicity              = 2
    max_provisioning_failures = 1
    inputs = {
      "master.host"  = "master:hostname"
      "master.ready" = "master:ready"
      "master.token" = "master:token"
      role           = "'worker'"
    }
  }
}
