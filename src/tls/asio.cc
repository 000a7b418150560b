// The one translation unit that compiles Boost.Asio (separate compilation).
// The m2msec_tls target defines BOOST_ASIO_SEPARATE_COMPILATION publicly,
// so every file that includes Asio headers links against this one.
#ifndef BOOST_ASIO_SEPARATE_COMPILATION
#define BOOST_ASIO_SEPARATE_COMPILATION
#endif
#include <boost/asio/impl/src.hpp>
