#!/bin/sh -xe

default_site_location='/etc/apache2/sites-available/default'
if [ ! -f $default_site_location ]; then
  default_site_location='/etc/apache2/sites-available/000-default.conf'
fi

http_root_location='/var/www/html'
if [ ! -d $http_root_location ]; then
  http_root_location='/var/www'
fi

echo 'Hello from Apache deployed by SlipStream!' > $http_root_location/data.txt

service apache2 stop
port=$(ss-get port)

sed -i -e 's/^Listen.*$/Listen '$port'/' /etc/apache2/ports.conf
sed -i -e 's/^NameVirtualHost.*$/NameVirtualHost *:'$port'/' /etc/apache2/ports.conf
sed -i -e 's/^<VirtualHost.*$/<VirtualHost *:'$port'>/' $default_site_location
service apache2 start
ss-set ready true
url="http://$(ss-get hostname):$port"
ss-set url.service $url
ss-set ss:url.service $url
