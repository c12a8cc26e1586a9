; The README's Script-Fu example, run by test_gimp_scripting.py exactly as written:
;   gimp-console-3.0 -i --batch-interpreter=plug-in-script-fu-eval -b '(load "stylize.scm")' --quit
; GIMP 3.0 Script-Fu calls a plug-in procedure with keyword arguments named like the procedure's
; arguments; the ones left out keep their defaults.
(script-fu-use-v3)
(let* ((image (gimp-file-load RUN-NONINTERACTIVE "/shared/scriptfu/photo.png"))
       (layer (vector-ref (gimp-image-get-selected-layers image) 0))
       (result (plug-in-impasto-stylize #:run-mode RUN-NONINTERACTIVE
                                        #:image image
                                        #:drawables (vector layer)
                                        #:style-file "/shared/scriptfu/style.png"
                                        #:presets "3:0.5"
                                        #:mode "refine"
                                        #:strength 60
                                        #:quality "draft"
                                        #:iterations 6
                                        #:preview-every 2)))
  ; result: (previews result-layer details-json)
  (display (string-append "previews: " (number->string (car result)) "\n"))
  (gimp-image-merge-visible-layers image CLIP-TO-IMAGE)
  (gimp-file-save RUN-NONINTERACTIVE image "/shared/scriptfu/styled.png" -1)
  (gimp-image-delete image))
