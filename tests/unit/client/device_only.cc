// device_only.cc: a program that links only the device side (Enrolee and
// Entity A: m2msec::client). check_device_only.sh inspects the binary: it
// must contain no store, service, SQLite or TOML code (issue 10: "a program
// that links only the Enrolee / Entity A side must not pull in SQLite,
// toml++ or the store").
#include <cstdio>

#include "m2msec/client/associate.h"
#include "m2msec/client/enrolee.h"

int main(int argc, char**) {
  if (argc > 1) {  // never taken in the test; keeps both entry points linked
    m2msec::client::EnrolOptions e;
    (void)m2msec::client::enrol(e);
    m2msec::client::AssociateOptions a;
    (void)m2msec::client::associate(a);
  }
  std::puts("device-only program");
  return 0;
}
