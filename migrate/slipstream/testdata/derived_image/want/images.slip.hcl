# Imported by slipc import slipstream from examples_images_ubuntu-12.04-standalone.xml,
# examples_tutorials_service-testing_apache.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# Imported from SlipStream image module examples/tutorials/service-testing/apache, version 1822
# (examples_tutorials_service-testing_apache.xml).
# Changed in the import:
#   - its export says login user "root", but a derived image takes its login user from its base
#     image ("ubuntu"), as SlipStream did
#   - the default of input admin_password is secret: it is not written into the recipe; the input
#     defaults to variable "apache_admin_password" instead, to give at deploy time
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
#   - package mod-status-exporter comes from repository "deb https://deb.example.org/ trusty main"
#     with key "https://deb.example.org/archive.key": a recipe installs packages from the machine's
#     configured repositories; add the repository in pre_install
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
image "apache" {
  description  = "Apache web server appliance with custom landing page."
  parent       = image.ubuntu-12_04-standalone
  packages     = ["apache2", "mod-status-exporter", "wget"]
  pre_install  = file("scripts/apache/prerecipe.sh")
  post_install = file("scripts/apache/recipe.sh")
  cpu          = 2
  ram          = 4

  # Instructions (from SlipStream): Password of the status page.
  input "admin_password" {
    description = "A password"
    default     = var.apache_admin_password
    sensitive   = true
  }

  input "mode" {
    description = "Serving mode"
    default     = "static"
    allowed     = ["static", "proxy"]
  }

  input "verbose" {
    description = "Log every request"
    default     = "false"
    allowed     = ["true", "false"]
  }

  output "port" {
    description = "Port"
  }

  output "ready" {
    description = "Server ready to recieve connections"
  }
}

# Imported from SlipStream image module examples/images/ubuntu-12.04-standalone, version 1808
# (examples_images_ubuntu-12.04-standalone.xml).
# Changed in the import:
#   - output vnc_password is marked sensitive: its name says it holds a credential (SlipStream's
#     type was String)
# Not imported (no equivalent in a recipe):
#   - version 1808: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put, post (deploy); public: get, post (deploy): a recipe is shared as
#     files (a repository's own rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
#   - logo https://nuv.la/images/modules-logos/ubuntu.svg
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
image "ubuntu-12_04-standalone" {
  description = "Standalone deployment of Ubuntu-12.04 machine"
  login_user  = "ubuntu"
  platform    = "ubuntu"

  output "vnc_password" {
    description = "vnc_password"
    sensitive   = true
  }
}
