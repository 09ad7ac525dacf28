#!/usr/bin/env bash
# Build the companion's protocol core and headless phone with plain javac, then run the JUnit 4
# tests against the golden vectors in tests/vectors/. No Gradle, no network, no Android SDK.
#
#   android-companion/protocol/build.sh            build + test
#   BUILD_DIR=/tmp/x android-companion/protocol/build.sh
#   android-companion/protocol/build.sh --no-test  build only (prints the classpath)
#
# Needs javac >= 17 and junit4 + hamcrest (Debian: default-jdk-headless junit4). Prints the
# runtime classpath of the headless phone on its last line ("classpath: ...").
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$HERE/build}"
JUNIT_JAR="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
HAMCREST_JAR="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"
MAIN_OUT="$BUILD_DIR/classes/main"
TEST_OUT="$BUILD_DIR/classes/test"

command -v javac >/dev/null || { echo "build.sh: javac not found (apt-get install default-jdk-headless)" >&2; exit 3; }
rm -rf "$MAIN_OUT" "$TEST_OUT"
mkdir -p "$MAIN_OUT" "$TEST_OUT"

# -Xlint:all -Werror keeps the core warning-free; --release 17 matches the Android module.
find "$HERE/src/main/java" "$HERE/src/headless/java" -name '*.java' > "$BUILD_DIR/main-sources.txt"
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$MAIN_OUT" @"$BUILD_DIR/main-sources.txt"

# The core must stay free of Android and desktop-only APIs: it is shared with the app.
if grep -rlE '^import (android|androidx|java\.net\.http|java\.awt|javax\.imageio)\.' "$HERE/src/main/java"; then
    echo "build.sh: the protocol core imports a platform-specific API (files above)" >&2
    exit 1
fi

# ... and to the Java library APIs Android has at minSdk 26 (records and switch expressions are
# desugared by D8; these Java 9+ library methods are not available there).
if grep -nE '\b(List|Map|Set)\.of\(|\.strip\(\)|\.repeat\(|\.isBlank\(|Files\.(readString|writeString)|ValueExact\(|\.readAllBytes\(|Arrays\.equals\([^)]*,[^)]*,[^)]*,' "$HERE"/src/main/java/rig/companion/protocol/*.java; then
    echo "build.sh: the protocol core uses a Java API missing on Android 8 (API 26) (lines above)" >&2
    exit 1
fi

if [[ "${1:-}" == "--no-test" ]]; then
    echo "classpath: $MAIN_OUT"
    exit 0
fi

for jar in "$JUNIT_JAR" "$HAMCREST_JAR"; do
    [[ -f "$jar" ]] || { echo "build.sh: $jar missing (apt-get install junit4)" >&2; exit 3; }
done
CP="$MAIN_OUT:$JUNIT_JAR:$HAMCREST_JAR"
find "$HERE/src/test/java" -name '*.java' > "$BUILD_DIR/test-sources.txt"
javac --release 17 -Xlint:all,-processing -Werror -encoding UTF-8 -cp "$CP" -d "$TEST_OUT" @"$BUILD_DIR/test-sources.txt"

TESTS=$(cd "$TEST_OUT" && find . -name '*Test.class' ! -name '*$*' | sed 's|^\./||; s|\.class$||; s|/|.|g' | sort)
java -Drig.root="$ROOT" -cp "$CP:$TEST_OUT" org.junit.runner.JUnitCore $TESTS
echo "classpath: $MAIN_OUT"
