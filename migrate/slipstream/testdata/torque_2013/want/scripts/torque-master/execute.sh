#!/bin/bash -x

#
# ==========
#  Following section could be put into image recipe for those
#  clouds that support image creation.
# ==========
#

#
# install prerequisites
#
apt-get clean
apt-get update
apt-get -y install munge torque-scheduler torque-server

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
# master hostname (must be a name!)
#
master_ip=`ss-get --timeout 480 master.1:hostname`
cmd="import socket; print socket.getfqdn('$master_ip')"
export master_hostname=`python -c "$cmd"`

ss-set master_hostname $master_hostname

#
# initialize the server configuration with hostname
# 
touch /var/spool/torque/server_priv/nodes
echo $master_hostname >  /etc/torque/server_name 

#
# configure and start munge service
#
create-munge-key
service munge start 

#
# set parameter with munge key to be shared with workers
# value is the base64 encoded value of the binary file
#
ss-set munge_key64 `cat /etc/munge/munge.key | base64 --wrap 0`

#
# ensure server is stopped, remove existing database
#
service torque-server stop
rm -f /var/spool/torque/server_priv/nodes
rm -f /var/spool/torque/server_priv/serverdb

#
# minimal setup of the batch system and queues
#
cp /usr/share/doc/torque-common/torque.setup .
chmod a+x torque.setup
./torque.setup root $master_hostname

#
# ensure again that server is stopped
#
service torque-server stop

#
# pull in node names of all of the workers
#
rm -f /var/spool/torque/server_priv/nodes
for (( i=1; i <= `ss-get worker.1:multiplicity`; i++ )); do
  worker_ip=`ss-get --timeout 480 worker.$i:hostname`
  cmd="import socket; print socket.getfqdn('$worker_ip')"
  worker_hostname=`python -c "$cmd"`
  echo $worker_hostname >> /var/spool/torque/server_priv/nodes
done

#
# restart the server so that it will see all workers
#
service torque-server restart

#
# now start the torque scheduler (simple FIFO)
#
service torque-scheduler restart

#
# configuration for ssh access between nodes as user
#
su - tuser -c 'mkdir -p /home/tuser/.ssh'
su - tuser -c 'chmod 0700 /home/tuser/.ssh'
su - tuser -c 'ssh-keygen -f /home/tuser/.ssh/id_rsa -N ""'

cp /root/.ssh/authorized_keys /home/tuser/.ssh/authorized_keys
chown tuser:tuser /home/tuser/.ssh/authorized_keys
chmod 0600 /home/tuser/.ssh/authorized_keys
su - tuser -c 'cat /home/tuser/.ssh/id_rsa.pub >> /home/tuser/.ssh/authorized_keys'

ss-set user_id_rsa64 `cat /home/tuser/.ssh/id_rsa | base64 --wrap 0`