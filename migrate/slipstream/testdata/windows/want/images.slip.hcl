# Imported by slipc import slipstream from examples_images_ubuntu-12.04.xml,
# examples_images_windows-server-2012.xml, examples_tutorials_service-testing-windows_apache.xml,
# examples_tutorials_service-testing-windows_client.xml,
# examples_tutorials_service-testing-windows_system.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# Imported from SlipStream image module examples/tutorials/service-testing-windows/apache, version
# 1821 (examples_tutorials_service-testing-windows_apache.xml).
# Changed in the import:
#   - output port had a value in SlipStream; scripts/apache/preset-outputs.sh sets it first in
#     deploy
# Not imported (no equivalent in a recipe):
#   - version 1821: SlipStream's version history is not imported; this is the version the recipe
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
  description  = "Apache web server appliance with custom landing page (Please ensure that port 8080 is open in your security group named \"default\")"
  parent       = image.ubuntu-12_04
  post_install = file("scripts/apache/recipe.sh")

  output "port" {
    description = "Port"
  }

  output "ready" {
    description = "Server ready to recieve connections"
  }
}

# Imported from SlipStream image module examples/tutorials/service-testing-windows/client, version
# 1820 (examples_tutorials_service-testing-windows_client.xml).
# Not imported (no equivalent in a recipe):
#   - version 1820: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put; public: get: a recipe is shared as files (a repository's own
#     rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
#   - its execute target is for Windows, where the agent does not run: it is kept in
#     scripts/client/execute.ps1, not referenced by the recipe
#   - its report target is for Windows, where the agent does not run: it is kept in
#     scripts/client/report.ps1, not referenced by the recipe
image "client" {
  description = "Windows web client tests server connectivity and verifies content (For Exoscale: Please ensure that port 5985 is open in your security group named \"default\")"
  parent      = image.windows-server-2012

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

# Imported from SlipStream image module examples/images/ubuntu-12.04, version 1780
# (examples_images_ubuntu-12.04.xml).
# Not imported (no equivalent in a recipe):
#   - version 1780: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put, post (deploy); public: get, post (deploy): a recipe is shared as
#     files (a repository's own rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
#   - published to the app store on 2015-07-02 15:52:06.32 UTC: there is no app store
#   - logo https://nuv.la/images/modules-logos/ubuntu.svg
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
image "ubuntu-12_04" {
  description = "Minimal installation of the Ubuntu 12.04 (LTS) operating system."
  login_user  = "ubuntu"
  platform    = "ubuntu"
}

# Imported from SlipStream image module examples/images/windows-server-2012, version 1810
# (examples_images_windows-server-2012.xml).
# Changed in the import:
#   - output windows_password is marked sensitive: its name says it holds a credential
#     (SlipStream's type was String)
# Not imported (no equivalent in a recipe):
#   - version 1810: SlipStream's version history is not imported; this is the version the recipe
#     holds
#   - sharing rights (authz): owner sixsq; owner: get, put, post (deploy), delete, create
#     children; group: get, put, post (deploy); public: get, post (deploy): a recipe is shared as
#     files (a repository's own rights)
#   - commit by sixsq: "Initial version of this module": commit messages belong to the recipe's
#     version control
#   - published to the app store on 2015-07-02 15:52:17.492 UTC: there is no app store
#   - logo https://nuv.la/images/modules-logos/windows-server-2012.svg
#   - network = "Public": a recipe has no network type; the cloud's settings choose the network
#     (ec2 associate_public_ip, openstack network, …)
#   - its execute target is for Windows, where the agent does not run: it is kept in
#     scripts/windows-server-2012/execute.ps1, not referenced by the recipe
image "windows-server-2012" {
  description = "Standard installation of the Windows Server 2012 R2 operating system (For Exoscale: Please ensure that port 5985 is open in your security group named \"default\")"
  login_user  = "administrator"
  platform    = "windows"

  output "windows_password" {
    description = "windows password"
    sensitive   = true
  }

  output "windows_username" {
    description = "windows username"
  }
}
