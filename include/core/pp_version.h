/* pp_version: the release version, printed by --version and in User-Agent strings. */
#ifndef PP_VERSION_H
#define PP_VERSION_H

#define PP_VERSION "0.1.0"

#endif
