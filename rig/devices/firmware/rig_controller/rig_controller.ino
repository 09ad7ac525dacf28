// Reference firmware for the rig controller, protocol version 1 (docs/rig-controller.md).
//
// Board: Arduino Uno/Nano (ATmega328P) or any Arduino-compatible board.
// Wiring (change the pins below to match your build):
//   D5  (PWM) -> MOSFET/SSR gate of the room/ambient lights      channel "light"
//   D6  (PWM) -> MOSFET gate of the LED ring at the camera        channel "ring"
//   D7        -> relay of the monitor bias light                  channel "backlight"
//   D8        -> optocoupler of the camera remote-release line    FIRE
//   A4/A5 I2C -> BH1750 ambient light sensor at address 0x23      READ (lux)
//
// Not compiled in rig's CI (no AVR toolchain there): build it with the Arduino IDE or
// `arduino-cli compile --fqbn arduino:avr:uno`. The host-side simulator
// (rig/devices/controller_protocol.py, DeviceModel) is the executable specification;
// keep the two in step.

#include <Wire.h>

#define FW_NAME "rig-controller/1.0"
#define PROTO_VERSION 1
#define MAX_LINE 160
#define MAX_FIRE_MS 2000

const uint8_t PIN_LIGHT = 5;
const uint8_t PIN_RING = 6;
const uint8_t PIN_BACKLIGHT = 7;
const uint8_t PIN_SHUTTER = 8;
const uint8_t BH1750_ADDR = 0x23;

uint8_t levelLight = 0, levelRing = 0, levelBacklight = 0;
unsigned long shutterCount = 0;
char line[MAX_LINE + 1];
uint8_t lineLen = 0;
bool discarding = false;  // the current line overflowed: drop it up to the newline
char reply[MAX_LINE + 1];
char out[MAX_LINE + 8];

// CRC-8/SMBUS: poly 0x07, init 0, no reflection (check value of "123456789" is 0xF4).
uint8_t crc8(const char *data, size_t n) {
  uint8_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint8_t)data[i];
    for (uint8_t b = 0; b < 8; b++) crc = (crc & 0x80) ? (uint8_t)((crc << 1) ^ 0x07) : (uint8_t)(crc << 1);
  }
  return crc;
}

// Sends "#<seq> <body>*CC\n".
void sendFrame(unsigned int seq, const char *body) {
  int n = snprintf(out, sizeof(out), "%u %s", seq, body);
  if (n <= 0 || n >= (int)sizeof(out)) return;
  uint8_t crc = crc8(out, (size_t)n);
  Serial.print('#');
  Serial.print(out);
  Serial.print('*');
  if (crc < 0x10) Serial.print('0');
  Serial.print(crc, HEX);  // upper case
  Serial.print('\n');
}

void sendError(unsigned int seq, const char *code, const char *text) {
  snprintf(reply, sizeof(reply), "ERR %s %s", code, text);
  sendFrame(seq, reply);
}

// -1 if the value is not a level for this channel (PWM 0..255 or named; relay on/off/0/1).
int parseLevel(const char *channel, const char *value) {
  bool relay = strcmp(channel, "backlight") == 0;
  if (relay) {
    if (!strcmp(value, "on") || !strcmp(value, "1")) return 1;
    if (!strcmp(value, "off") || !strcmp(value, "0")) return 0;
    return -1;
  }
  if (!strcmp(value, "off")) return 0;
  if (!strcmp(value, "dim")) return 64;
  if (!strcmp(value, "half")) return 128;
  if (!strcmp(value, "on")) return 255;
  size_t n = strlen(value);
  if (n == 0 || n > 3) return -1;
  for (size_t i = 0; i < n; i++) if (value[i] < '0' || value[i] > '9') return -1;
  int v = atoi(value);
  return v <= 255 ? v : -1;
}

// The canonical spelling the device reports (named levels where they exist).
void levelName(const char *channel, int level, char *dst, size_t size) {
  if (!strcmp(channel, "backlight")) { snprintf(dst, size, "%s", level ? "on" : "off"); return; }
  const char *name = level == 0 ? "off" : level == 64 ? "dim" : level == 128 ? "half" : level == 255 ? "on" : NULL;
  if (name) snprintf(dst, size, "%s", name); else snprintf(dst, size, "%d", level);
}

uint8_t *channelLevel(const char *channel) {
  if (!strcmp(channel, "light")) return &levelLight;
  if (!strcmp(channel, "ring")) return &levelRing;
  if (!strcmp(channel, "backlight")) return &levelBacklight;
  return NULL;
}

void applyOutputs() {
  analogWrite(PIN_LIGHT, levelLight);
  analogWrite(PIN_RING, levelRing);
  digitalWrite(PIN_BACKLIGHT, levelBacklight ? HIGH : LOW);
}

float readLux() {
  Wire.beginTransmission(BH1750_ADDR);
  Wire.write(0x20);  // one-time high-resolution measurement (120-180 ms)
  if (Wire.endTransmission() != 0) return -1.0;
  delay(180);
  if (Wire.requestFrom(BH1750_ADDR, (uint8_t)2) != 2) return -1.0;
  uint16_t raw = ((uint16_t)Wire.read() << 8) | Wire.read();
  return raw / 1.2;  // datasheet: lux = count / 1.2
}

// SET: validate every pair first, then apply all (all or nothing).
void doSet(unsigned int seq, char *args) {
  char *pairs[8];
  int n = 0;
  for (char *tok = strtok(args, " "); tok && n < 8; tok = strtok(NULL, " ")) pairs[n++] = tok;
  if (n == 0) { sendError(seq, "SYNTAX", "nothing-to-set"); return; }
  int levels[8];
  for (int i = 0; i < n; i++) {
    char *eq = strchr(pairs[i], '=');
    if (!eq) { sendError(seq, "KEY", "unknown-channel"); return; }
    *eq = '\0';
    if (!channelLevel(pairs[i])) { sendError(seq, "KEY", "unknown-channel"); return; }
    levels[i] = parseLevel(pairs[i], eq + 1);
    if (levels[i] < 0) { sendError(seq, "VALUE", "bad-level"); return; }
  }
  snprintf(reply, sizeof(reply), "OK");
  for (int i = 0; i < n; i++) {
    *channelLevel(pairs[i]) = (uint8_t)levels[i];
    char name[8];
    levelName(pairs[i], levels[i], name, sizeof(name));
    size_t used = strlen(reply);
    snprintf(reply + used, sizeof(reply) - used, " %s=%s", pairs[i], name);
  }
  applyOutputs();
  sendFrame(seq, reply);
}

void doFire(unsigned int seq, char *args) {
  long ms = 100;
  char *arg = strstr(args, "ms=");
  if (arg) ms = atol(arg + 3);
  if (ms < 1 || ms > MAX_FIRE_MS) { sendError(seq, "VALUE", "ms-must-be-1..2000"); return; }
  digitalWrite(PIN_SHUTTER, HIGH);
  delay(ms);  // the host waits for the reply; pulses are short and bounded
  digitalWrite(PIN_SHUTTER, LOW);
  shutterCount++;
  snprintf(reply, sizeof(reply), "OK ms=%ld count=%lu", ms, shutterCount);
  sendFrame(seq, reply);
}

void handleLine(char *text, size_t len) {
  if (len == 0) return;
  if (text[0] != '#') return;  // line noise: no answer
  char *star = strrchr(text, '*');
  long seq = -1;
  if (text[1] >= '0' && text[1] <= '9') seq = atol(text + 1);
  unsigned int errSeq = (seq >= 0 && seq <= 65535) ? (unsigned int)seq : 0;
  if (!star || (size_t)(text + len - star) != 3) { sendError(errSeq, "CRC", "bad-line"); return; }
  char hex[3] = {star[1], star[2], 0};
  char *end;
  long want = strtol(hex, &end, 16);
  bool upper = (isdigit(hex[0]) || isupper(hex[0])) && (isdigit(hex[1]) || isupper(hex[1]));
  if (*end || !upper || want != crc8(text + 1, (size_t)(star - text - 1))) {
    sendError(errSeq, "CRC", "bad-line");
    return;
  }
  *star = '\0';
  char *body = text + 1;
  char *space = strchr(body, ' ');
  if (!space || seq < 0 || seq > 65535) { sendError(0, "CRC", "bad-line"); return; }
  char *verb = space + 1;
  char *args = strchr(verb, ' ');
  if (args) *args++ = '\0'; else args = (char *)"";
  if (seq == 0) { sendError(0, "VERB", "unknown-verb"); return; }
  if (!strcmp(verb, "HELLO")) {
    snprintf(reply, sizeof(reply), "OK fw=%s proto=%d channels=light,ring,backlight sensor=lux",
             FW_NAME, PROTO_VERSION);
    sendFrame(seq, reply);
  } else if (!strcmp(verb, "SET")) {
    doSet(seq, args);
  } else if (!strcmp(verb, "GET")) {
    char a[8], b[8], c[8];
    levelName("light", levelLight, a, sizeof(a));
    levelName("ring", levelRing, b, sizeof(b));
    levelName("backlight", levelBacklight, c, sizeof(c));
    snprintf(reply, sizeof(reply), "OK light=%s ring=%s backlight=%s", a, b, c);
    sendFrame(seq, reply);
  } else if (!strcmp(verb, "READ")) {
    float lux = readLux();
    if (lux < 0) { sendError(seq, "SENSOR", "no-reading"); return; }
    char num[16];
    dtostrf(lux, 1, 1, num);
    snprintf(reply, sizeof(reply), "OK lux=%s", num);
    sendFrame(seq, reply);
  } else if (!strcmp(verb, "FIRE")) {
    doFire(seq, args);
  } else if (!strcmp(verb, "PING")) {
    sendFrame(seq, "OK");
  } else {
    sendError(seq, "VERB", "unknown-verb");
  }
}

void setup() {
  pinMode(PIN_LIGHT, OUTPUT);
  pinMode(PIN_RING, OUTPUT);
  pinMode(PIN_BACKLIGHT, OUTPUT);
  pinMode(PIN_SHUTTER, OUTPUT);
  digitalWrite(PIN_SHUTTER, LOW);
  applyOutputs();  // everything off after a reset; the host restores its conditions
  Wire.begin();
  Serial.begin(115200);
  snprintf(reply, sizeof(reply), "EVT boot fw=%s", FW_NAME);
  sendFrame(0, reply);
}

void loop() {
  while (Serial.available() > 0) {
    char c = (char)Serial.read();
    if (c == '\n') {
      if (!discarding) {
        if (lineLen > 0 && line[lineLen - 1] == '\r') lineLen--;
        line[lineLen] = '\0';
        handleLine(line, lineLen);
      }
      lineLen = 0;
      discarding = false;
    } else if (!discarding) {
      if (lineLen >= MAX_LINE) { discarding = true; lineLen = 0; }
      else line[lineLen++] = c;
    }
  }
}
