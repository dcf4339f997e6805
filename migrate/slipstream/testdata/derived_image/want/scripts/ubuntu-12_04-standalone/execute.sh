#!/bin/bash -x

# update all of the packages to the latest releases
apt-get clean
apt-get update


#
# install vnc access server 
#begin ...

#install GUI on server and cloud editions
apt-get -y install --no-install-recommends ubuntu-desktop

#install gnome desktop environment
apt-get -y install gnome-panel gnome-settings-daemon metacity nautilus gnome-terminal

#install vnc4server package.
apt-get -y install vnc4server

#make a backup copy.
cp /usr/bin/vncserver /usr/bin/vncserver.bkp



#copy in line 58 of file /usr/bin/vncserver
sed "58i\ \"gnome-panel &\\\n\".\n \"gnome-settings-daemon &\\\n\".\n \"metacity &\\\n\".\n \"nautilus &\\\n\".\n \"gnome-terminal &\\\n\"." /usr/bin/vncserver


# create a random password for vnc_user
vnc_password=`openssl rand -base64 6`
crypt_vnc_password=`echo $vnc_password | openssl passwd -crypt -stdin`


# publish password so vnc_user can log in
# will be visible in machine parameters in SlipStream interface
ss-set vnc_password $vnc_password


#ouvre le port utilisé par vnc
iptables -I INPUT 1 -j ACCEPT -p tcp --dport 5900:5902 



touch /etc/init.d/vncserver
chmod +x /etc/init.d/vncserver

cat > /etc/init.d/vncserver <<'EOF'
#!/bin/bash
unset VNCSERVERARGS
VNCSERVERS=""
[ -f /etc/vncserver/vncservers.conf ] && . /etc/vncserver/vncservers.conf
prog=$"VNC server"
start() {
 . /lib/lsb/init-functions
 REQ_USER=$2
 echo -n $"Starting $prog: "
 ulimit -S -c 0 >/dev/null 2>&1
 RETVAL=0
 for display in ${VNCSERVERS}
 do
 export USER="${display##*:}"
 if test -z "${REQ_USER}" -o "${REQ_USER}" == ${USER} ; then
 echo -n "${display} "
 unset BASH_ENV ENV
 DISP="${display%%:*}"
 export VNCUSERARGS="${VNCSERVERARGS[${DISP}]}"
 su ${USER} -c "cd ~${USER} && [ -f .vnc/passwd ] && vncserver :${DISP} ${VNCUSERARGS}"
 fi
 done
}
stop() {
 . /lib/lsb/init-functions
 REQ_USER=$2
 echo -n $"Shutting down VNCServer: "
 for display in ${VNCSERVERS}
 do
 export USER="${display##*:}"
 if test -z "${REQ_USER}" -o "${REQ_USER}" == ${USER} ; then
 echo -n "${display} "
 unset BASH_ENV ENV
 export USER="${display##*:}"
 su ${USER} -c "vncserver -kill :${display%%:*}" >/dev/null 2>&1
 fi
 done
 echo -e "\n"
 echo "VNCServer Stopped"
}
case "$1" in
start)
start $@
;;
stop)
stop $@
;;
restart|reload)
stop $@
sleep 3
start $@
;;
condrestart)
if [ -f /var/lock/subsys/vncserver ]; then
stop $@
sleep 3
start $@
fi
;;
status)
status Xvnc
;;
*)
echo $"Usage: $0 {start|stop|restart|condrestart|status}"
exit 1
esac
EOF



update-rc.d vncserver defaults

touch /etc/vncservers.conf
cat > /etc/vncservers.conf <<'EOF'
VNCSERVERS="1:ubuntu"
VNCSERVERARGS[1]="-geometry 1024x600"
EOF


#mkdir /home/ubuntu/.vnc
HOME=~ubuntu sudo -u ubuntu vncserver <<EOF
${vnc_password}
${vnc_password}
EOF


#End of vnc installation
#


# set the deployment url to SSH url
url=`ss-get url.ssh`
ss-set ss:url.service "${url}"


# set the customstate to inform user that everything's ready
ss-set statecustom 'CentOS 6 Ready!'