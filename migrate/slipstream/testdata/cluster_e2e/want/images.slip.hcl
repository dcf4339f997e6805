# Imported by slipc import slipstream from examples_cluster_base.xml, examples_cluster_cluster.xml,
# examples_cluster_master.xml, examples_cluster_worker.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# Imported from SlipStream image module examples/cluster/base, version 101
# (examples_cluster_base.xml).
# Not imported (no equivalent in a recipe):
#   - version 101: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put, post (deploy); public: get, post (deploy): a recipe is shared as
#     files (a repository's own rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
image "base" {
  description = "Any Linux with a POSIX shell."
  login_user  = "root"
  platform    = "debian"
}

# Imported from SlipStream image module examples/cluster/master, version 102
# (examples_cluster_master.xml).
# Changed in the import:
#   - output token is marked sensitive: its name says it holds a credential (SlipStream's type was
#     String)
# Not imported (no equivalent in a recipe):
#   - version 102: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put, post (deploy); public: get, post (deploy): a recipe is shared as
#     files (a repository's own rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
image "master" {
  description = "Cluster master: hands out a join token and counts the workers."
  parent      = image.base

  output "ready" {
    description = "The master accepts workers"
  }

  output "token" {
    description = "Join token for the workers"
    sensitive   = true
  }

  output "workers" {
    description = "How many workers joined"
  }
}

# Imported from SlipStream image module examples/cluster/worker, version 103
# (examples_cluster_worker.xml).
# Changed in the import:
#   - input master.token is marked sensitive: its name says it holds a credential (SlipStream's
#     type was String)
# Not imported (no equivalent in a recipe):
#   - version 103: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put, post (deploy); public: get, post (deploy): a recipe is shared as
#     files (a repository's own rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
image "worker" {
  description = "Cluster worker: joins the master with its token."
  parent      = image.base

  input "master.host" {
    description = "The master's address"
  }

  input "master.ready" {
    description = "The master accepts workers"
  }

  input "master.token" {
    description = "The master's join token"
    sensitive   = true
  }

  input "role" {
    description = "Role of this node in the cluster"
    default     = "standby"
    allowed     = ["worker", "standby"]
  }

  output "joined" {
    description = "What the worker joined"
  }
}
