# A shared library folder: images and components, no deployment.

image "base" {
  platform = "alpine"
  packages = ["redis"]
}

component "cache" {
  image = image.base

  output "endpoint" {
    description = "host:port of the cache."
  }

  deploy = file("scripts/cache.sh")
}
