#!/bin/sh -xe

apt-get update -y
apt-get install -y apache2