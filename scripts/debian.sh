# Sourced by run.sh and test.sh: install a Debian package when what it provides is missing.
#   need_deb PACKAGE TEST-PATH-GLOB "why it is needed"
# Nothing is downloaded at run time; this runs once, at set-up, through apt-get.
need_deb() {
  local package="$1" provides="$2" why="$3"
  # shellcheck disable=SC2086  # the glob is meant to expand
  if ls $provides >/dev/null 2>&1; then return 0; fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "Installing Debian's $package ($why) …"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$package" >/dev/null
}
