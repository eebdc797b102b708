/*
 * envelope.c - envelope addresses as the rulesets see them
 */
#include "mqsift-build.h"

#include "config/envelope.h"

#include <string.h>

/* envelope_strip - drop the angle brackets */
char *
envelope_strip(char *address)
{
	gsize n = strlen(address);

	if (n >= 2 && address[0] == '<' && address[n - 1] == '>') {
		memmove(address, address + 1, n - 2);
		address[n - 2] = '\0';
	}
	return address;
}
