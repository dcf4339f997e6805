# Wait for the metadata to be resolved
$web_server_ip = ss-get --timeout 360 webserver.hostname
$web_server_port = ss-get --timeout 360 webserver.port
ss-get --timeout 360 webserver.ready

$wc = New-Object System.Net.WebClient;

$url = "http://$web_server_ip"+":$web_server_port/data.txt"
$file = "$pwd\data.txt"

$wc.DownloadFile($url,$file)
$success = $?

$data = ""
try{ $data = [Io.File]::ReadAllText($file) }catch{}

if ($success){ss-set statecustom "OK: $data"} else{ss-abort "Could not get the test file: $url"}

