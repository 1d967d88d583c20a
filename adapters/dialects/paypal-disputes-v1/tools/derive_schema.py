#!/usr/bin/env python3
# Derives paypal-disputes-v1.schema.json from PayPal's OpenAPI file (run once; output committed):
#   python3 derive_schema.py customer_disputes_v1.json ../paypal-disputes-v1.schema.json
import json, sys
spec = json.load(open(sys.argv[1]))  # PayPal's spec file; it is not part of this repository
S = spec['components']['schemas']
DROP = {'description', 'title', 'readOnly', 'example', 'examples'}
def conv(o):
    if isinstance(o, dict):
        out = {}
        for k, v in o.items():
            if k in DROP and not isinstance(v, dict): continue
            if k in DROP and k != 'properties': continue
            if k == '$ref':
                out['$ref'] = v.replace('#/components/schemas/', '#/definitions/'); continue
            if k == 'format' and v != 'uri':  # ppaas_* formats: PayPal-internal names, facts kept as pattern/length
                continue
            if k == 'properties':
                out[k] = {pk: conv(pv) for pk, pv in v.items()}; continue
            out[k] = conv(v)
        # $ref with siblings: draft-07 ignores siblings anyway
        if '$ref' in out: return {'$ref': out['$ref']}
        return out
    if isinstance(o, list): return [conv(x) for x in o]
    return o
names = ['date_time','dispute_reason','status','dispute_state','currency_code','money','cryptocurrency_symbol',
 'cryptocurrency_quantity','cryptocurrency','dispute_lifecycle_stage','dispute_channel','buyer','email_address',
 'seller','item_type','item_product_details','item_service_details','item_booking_details',
 'item_digital_download_details','item_cancellation_details','item_agreed_refund_details','item_info',
 'payment_processor','transaction_info','fee_policy','dispute_outcome','adjudication_type','adjudication_reason',
 'adjudication','money_movement_reason','money_movement','document','message','merchant_contacted_outcome',
 'merchant_contacted_mode','duplicate_transaction','incorrect_transaction_amount','payment_by_other_means',
 'cancellation_details','return_details','product_details','service_details','agreed_refund_details',
 'credit_not_processed','canceled_recurring_billing','billing_disputes_properties','country_code',
 'address_portable','merchandize_dispute_properties','extensions','tracking_info','evidence_info','action_info',
 'evidence','offer_type','offer_history','offer','refund_details','communication_details','supporting_info',
 'acknowledgement_type','acknowledge_return_item_response_options','accept_claim_type',
 'accept_claim_response_options','make_offer_response_options','allowed_response_options','dispute',
 'buyer_escalation_reason','escalate','make_offer','accept_offer','deny_offer','link_description']
defs = {n: conv(S[n]) for n in names}
S_invoice_id = defs['make_offer']['properties']['invoice_id']
# carrier_name: 1,257 carriers that PayPal extends often; kept as the spec's pattern, not the enum.
del defs['tracking_info']['properties']['carrier_name']['enum']
# Request bodies are closed: a typo in a field name is an error, not a silently ignored field.
for n in ['escalate','make_offer','accept_offer','deny_offer']:
    defs[n]['additionalProperties'] = False
# buyer_escalation_reason is an empty schema in the spec; PayPal documents it as a string code.
defs['buyer_escalation_reason'] = {'type': 'string', 'minLength': 1, 'maxLength': 255, 'pattern': '^[0-9A-Z_]+$'}
# Not in the spec file (multipart parts or webhook envelope): see README.md, section "Beyond the spec".
defs['send_message'] = {'type': 'object', 'additionalProperties': False, 'required': ['message'],
    'properties': {'message': {'type': 'string', 'minLength': 1, 'maxLength': 2000}}}
defs['odrgw_file'] = {'type': 'object', 'additionalProperties': False, 'required': ['sha256', 'size'],
    'properties': {'sha256': {'type': 'string', 'minLength': 64, 'maxLength': 64, 'pattern': '^[0-9a-f]{64}$'},
                   'size': {'type': 'integer', 'minimum': 0, 'maximum': 10737418240},
                   'media_type': {'type': 'string', 'maxLength': 255,
                                  'pattern': '^[a-z0-9][a-z0-9.+-]{0,126}/[a-z0-9][a-z0-9.+-]{0,126}$'}}}
defs['document']['properties']['odrgw_file'] = {'$ref': '#/definitions/odrgw_file'}
# accept-claim: the spec file shows only the multipart file part; this is PayPal's JSON part.
defs['accept_claim'] = {'type': 'object', 'additionalProperties': False, 'required': ['note'],
    'properties': {'note': {'type': 'string', 'minLength': 1, 'maxLength': 2000},
                   'accept_claim_reason': {'type': 'string', 'minLength': 1, 'maxLength': 255,
                                           'pattern': '^[0-9A-Z_]+$'},
                   'invoice_id': S_invoice_id,
                   'return_shipping_address': {'$ref': '#/definitions/address_portable'},
                   'accept_claim_type': {'$ref': '#/definitions/accept_claim_type'},
                   'refund_amount': {'$ref': '#/definitions/money'}}}
defs['evidences_input'] = {'type': 'object', 'additionalProperties': False, 'required': ['evidences'],
    'properties': {'evidences': {'type': 'array', 'minItems': 1, 'maxItems': 100,
                                 'items': {'$ref': '#/definitions/evidence'}}}}
defs['webhook_event'] = {'type': 'object', 'required': ['id', 'event_type', 'resource'],
    'properties': {
        'id': {'type': 'string', 'minLength': 1, 'maxLength': 255, 'pattern': '^[A-Za-z0-9-]+$'},
        'create_time': {'$ref': '#/definitions/date_time'},
        'resource_type': {'type': 'string', 'enum': ['dispute']},
        'event_type': {'type': 'string', 'enum': ['CUSTOMER.DISPUTE.CREATED', 'CUSTOMER.DISPUTE.UPDATED',
                                                  'CUSTOMER.DISPUTE.RESOLVED']},
        'event_version': {'type': 'string', 'minLength': 1, 'maxLength': 16},
        'resource_version': {'type': 'string', 'minLength': 1, 'maxLength': 16},
        'summary': {'type': 'string', 'maxLength': 2000},
        'resource': {'$ref': '#/definitions/dispute_in'},
        'links': {'type': 'array', 'maxItems': 10, 'items': {'$ref': '#/definitions/link_description'}}}}
# A dispute as the adapter reads it must name itself and say why it exists.
defs['dispute_in'] = {'allOf': [{'$ref': '#/definitions/dispute'}], 'required': ['dispute_id', 'reason']}
doc = {
  '$schema': 'http://json-schema.org/draft-07/schema#',
  'title': 'PayPal Customer Disputes API v1 (spec 1.10) as read and written by odrgw',
  'description': 'Derived from paypal/paypal-rest-api-specifications openapi/customer_disputes_v1.json (Apache-2.0) by odrgw; see README.md. The adapter validates each document against definitions/<kind>.',
  'x-odrgw-kinds': {'dispute': 'dispute_in', 'webhook': 'webhook_event', 'make-offer': 'make_offer',
                    'accept-offer': 'accept_offer', 'deny-offer': 'deny_offer', 'send-message': 'send_message',
                    'provide-evidence': 'evidences_input', 'appeal': 'evidences_input', 'escalate': 'escalate', 'accept-claim': 'accept_claim'},
  'definitions': dict(sorted(defs.items())),
}
with open(sys.argv[2], 'w') as f:
    json.dump(doc, f, indent=1)
    f.write('\n')
