# Imported by slipc import slipstream from examples_images_ubuntu-12.04.xml,
# examples_images_windows-server-2012.xml, examples_tutorials_service-testing-windows_apache.xml,
# examples_tutorials_service-testing-windows_client.xml,
# examples_tutorials_service-testing-windows_system.xml.
# The clouds are still to fill in (clouds.slip.hcl): slipc validate warns and
# slipc compile refuses until they are. See docs/migrating-from-slipstream.md.

# deploy runs, in order, the outputs SlipStream preset (scripts/apache/preset-outputs.sh), then the
# execute target of examples/tutorials/service-testing-windows/apache (scripts/apache/execute.sh).
component "apache" {
  description = "Apache web server appliance with custom landing page (Please ensure that port 8080 is open in your security group named \"default\")"
  image       = image.apache
  deploy = [
    file("scripts/apache/preset-outputs.sh"),
    file("scripts/apache/execute.sh"),
  ]
  report = file("scripts/apache/report.sh")
}

# A Windows image (examples/images/windows-server-2012): its scripts are kept under scripts/ but not
# run, as the agent runs on Linux only.
component "client" {
  description = "Windows web client tests server connectivity and verifies content (For Exoscale: Please ensure that port 5985 is open in your security group named \"default\")"
  image       = image.client
}

# A Windows image (examples/images/windows-server-2012): its scripts are kept under scripts/ but not
# run, as the agent runs on Linux only.
component "windows-server-2012" {
  description = "Standard installation of the Windows Server 2012 R2 operating system (For Exoscale: Please ensure that port 5985 is open in your security group named \"default\")"
  image       = image.windows-server-2012
}
