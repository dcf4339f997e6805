#!/bin/bash -x

#
# ==========
#  Following section could be added an an image creation 
#  recipe on those clouds that support image building.
# ==========
#

#
# install prerequisites
# 
apt-get clean
apt-get update
apt-get -y install munge torque-mom

#
# update system
#
apt-get -o DPkg::options::="--force-confdef" -o DPkg::options::="--force-confold" -y upgrade

#
# ==========
#

#
# create normal user
#
adduser --quiet --uid 1000 --disabled-password --gecos '' tuser

#
# import the munge key from the server and start daemon
#
export munge_key64=`ss-get --timeout 480 master.1:munge_key64`
echo $munge_key64 | base64 -d > /etc/munge/munge.key
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
service munge start

#
# setup the worker daemon with master's hostname
#
master_ip=`ss-get master.1:hostname`
cmd="import socket; print socket.getfqdn('$master_ip')"
export master_hostname=`python -c "$cmd"`

echo "\$pbsserver " $master_hostname > /var/spool/torque/mom_priv/config

#
# start the worker daemon
#
service torque-mom restart 

#
# setup SSH configuration
#
su - tuser -c 'mkdir -p /home/tuser/.ssh'
ss-get --timeout 480 master.1:user_id_rsa64 | base64 -d >> /home/tuser/.ssh/id_rsa
chown tuser:tuser /home/tuser/.ssh/id_rsa
chmod 0400 /home/tuser/.ssh/id_rsa

ssh-keyscan `ss-get master.1:hostname` >> /home/tuser/.ssh/known_hosts
ssh-keyscan `ss-get master.1:master_hostname` >> /home/tuser/.ssh/known_hosts