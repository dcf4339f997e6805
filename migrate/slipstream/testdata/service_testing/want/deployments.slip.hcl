# Imported by slipc import slipstream from examples_images_ubuntu-14.04.xml,
# examples_tutorials_service-testing.xml, examples_tutorials_service-testing_apache.xml,
# examples_tutorials_service-testing_client.xml, examples_tutorials_service-testing_system.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# Imported from SlipStream deployment module examples/tutorials/service-testing/system, version 1814
# (examples_tutorials_service-testing_system.xml).
# Not imported (no equivalent in a recipe):
#   - version 1814: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put, post (deploy); public: get, post (deploy): a recipe is shared as
#     files (a repository's own rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
deployment "system" {
  description = "Deployment binding the apache server and the test client node(s)."

  node "apache" {
    component    = component.apache
    cloud        = cloud.default
    multiplicity = 1
  }

  node "testclient" {
    component    = component.client
    cloud        = cloud.default
    multiplicity = 1
    inputs = {
      "webserver.hostname" = "apache:hostname"
      "webserver.port"     = "apache:port"
      "webserver.ready"    = "apache:ready"
    }
  }
}
