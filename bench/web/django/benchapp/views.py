"""GET lists (the first 100, as sighost's default page), POST creates (201)."""
import json

from django.http import HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .models import Item

PAGE = 100   # sighost's default `limit` (docs/web.md)


@csrf_exempt
def items(request):
    if request.method == "GET":
        qs = Item.objects.order_by("pk")
        return JsonResponse({"count": qs.count(), "results": [i.as_json() for i in qs[:PAGE]]})
    if request.method == "POST":
        if request.content_type != "application/json":
            return JsonResponse({"error": "the body must be application/json"}, status=415)
        try:
            data = json.loads(request.body)
            item = Item(name=data["name"], qty=data["qty"], price=data["price"])
            item.full_clean()
        except Exception as e:   # bad JSON, missing field, validation
            return JsonResponse({"error": str(e)}, status=400)
        item.save()
        response = JsonResponse(item.as_json(), status=201)
        response["Location"] = "/api/items/%d" % item.pk
        return response
    return HttpResponseNotAllowed(["GET", "POST"])
