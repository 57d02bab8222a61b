/*
 * billing.h: the custom signal the billing plugin declares, for the plugins
 * that receive it (mailer). A sender sends it with a
 * billing_invoice_paid_args; receivers must not keep its pointers.
 */
#ifndef BILLING_H
#define BILLING_H

#include <stdint.h>

#define BILLING_INVOICE_PAID "billing.invoice_paid"

typedef struct billing_invoice_paid_args {
	const char *invoice;    /* the invoice number */
	const char *email;      /* who paid */
	int64_t amount_cents;
} billing_invoice_paid_args;

#endif
