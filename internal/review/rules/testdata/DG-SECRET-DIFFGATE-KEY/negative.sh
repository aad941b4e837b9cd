export DIFFGATE_API_KEY=dg_live_baAarG38Ra3x_osj3pxsb6qVVTkmFX8PBK748SAAa1Pty2Udjai
echo "keys look like dg_live_<id>_<secret>"
export DIFFGATE_API_KEY="${DIFFGATE_API_KEY:?}"
