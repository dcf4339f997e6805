# Imported by slipc import slipstream from examples_images_ubuntu-14.04.xml,
# examples_tutorials_service-testing.xml, examples_tutorials_service-testing_apache.xml,
# examples_tutorials_service-testing_client.xml, examples_tutorials_service-testing_system.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# Imported from SlipStream image module examples/tutorials/service-testing/apache, version 1822
# (examples_tutorials_service-testing_apache.xml).
# Changed in the import:
#   - output port had a value in SlipStream; scripts/apache/preset-outputs.sh sets it first in
#     deploy
# Not imported (no equivalent in a recipe):
#   - version 1822: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put; public: get: a recipe is shared as files (a repository's own
#     rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
#   - logo https://nuv.la/images/modules-logos/apache-httpd.svg
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
image "apache" {
  description  = "Apache web server appliance with custom landing page."
  parent       = image.ubuntu-14_04
  post_install = file("scripts/apache/recipe.sh")

  output "port" {
    description = "Port"
  }

  output "ready" {
    description = "Server ready to recieve connections"
  }
}

# Imported from SlipStream image module examples/tutorials/service-testing/client, version 1819
# (examples_tutorials_service-testing_client.xml).
# Not imported (no equivalent in a recipe):
#   - version 1819: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put; public: get: a recipe is shared as files (a repository's own
#     rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
image "client" {
  description = "Web client tests server connectivity and verifies content."
  parent      = image.ubuntu-14_04

  input "webserver.hostname" {
    description = "Server hostname"
  }

  input "webserver.port" {
    description = "Port on which the web server listens"
  }

  input "webserver.ready" {
    description = "Server ready to recieve connections"
  }
}

# Imported from SlipStream image module examples/images/ubuntu-14.04, version 1809
# (examples_images_ubuntu-14.04.xml).
# Not imported (no equivalent in a recipe):
#   - version 1809: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put, post (deploy); public: get, post (deploy): a recipe is shared as
#     files (a repository's own rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
#   - published to the app store on 2015-07-02 15:52:08.586 UTC: there is no app store
#   - logo https://nuv.la/images/modules-logos/ubuntu.svg
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
image "ubuntu-14_04" {
  description = "Minimal installation of the Ubuntu 14.04 (LTS) operating system."
  login_user  = "root"
  platform    = "ubuntu"
}
